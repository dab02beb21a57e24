package crmsync

// SettleBound is how many outcomes per worker may be on their way to the
// store while the workers push on.
const SettleBound = settleBound
