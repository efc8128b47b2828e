module github.com/halleyhq/halley

go 1.26.8

require go.uber.org/goleak v1.3.0

require github.com/coder/websocket v1.8.15

require golang.org/x/time v0.16.0 // indirect
