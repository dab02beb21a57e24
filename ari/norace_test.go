//go:build !race

package ari

const raceBuild = false
