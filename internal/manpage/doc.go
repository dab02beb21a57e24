// Package manpage renders callbridge(8) from the texts the project already
// keeps: the command summary `callbridge help` prints, the README's
// introduction, docs/config.md and sections of docs/operations.md. The page
// is generated at build time (make man), so it says what those texts say
// and cannot drift from them; nothing in it is written twice.
//
// It reads the small subset of Markdown those files use: headings,
// paragraphs, bullet and numbered lists, tables, fenced code and the inline
// forms `code`, **bold**, *emphasis* and [links](url).
package manpage
