package httpapi

// SetTakeOverHook sets the hook told of each takeover ("take") and each
// connection given back ("give"); nil removes it. Tests set it while no
// API runs.
func SetTakeOverHook(f func(what string)) { testHookTakeOver = f }
