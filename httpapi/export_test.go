package httpapi

import "net"

// SetTakeOverHook sets the hook told of each takeover ("take"), each
// connection given back ("give"), each answer that waits for a full
// socket ("wait") and each publish stream taken from net/http
// ("stream"), with the connection; nil removes it.
// Tests set it while no API runs.
func SetTakeOverHook(f func(what string, c net.Conn)) { testHookTakeOver = f }
