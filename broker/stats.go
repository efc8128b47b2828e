package broker

// OpCount counts the calls of one operation of a broker, and how many of
// them failed.
type OpCount struct {
	// Op names the operation: "publish", "history", "remove",
	// "broadcast", "subscribe", "unsubscribe".
	Op     string
	Calls  uint64
	Errors uint64
}

// Counter is implemented by brokers that count their operations (the
// Redis one): package metrics exports the counts when the hub's broker
// has it, so that brokers need not link a metrics library.
type Counter interface {
	// OpCounts returns the counts since the broker was made, one per
	// operation, in a fixed order.
	OpCounts() []OpCount
}
