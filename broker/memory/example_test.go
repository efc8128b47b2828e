package memory_test

import (
	"context"
	"fmt"
	"log"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/memory"
)

// printer is a broker.Handler that prints what it is handed and claims one
// local reader per message.
type printer struct{}

func (printer) HandleMessage(m broker.Message) int {
	fmt.Printf("handler: %s #%d %s\n", m.Stream, m.Offset, m.Data)
	return 1
}

func (printer) HandleBroadcast(topic string, data []byte) {}

// The memory broker delivers inside Publish and keeps the last HistorySize
// messages of each stream, for readers that resume from an offset.
func Example() {
	ctx := context.Background()
	b := memory.New()
	defer b.Close(ctx)
	if err := b.Start(ctx, printer{}); err != nil {
		log.Fatal(err)
	}
	if err := b.Subscribe(ctx, "news"); err != nil {
		log.Fatal(err)
	}

	for _, s := range []string{"a", "b", "c", "d"} {
		res, err := b.Publish(ctx, "news", []byte(s), broker.PublishOptions{HistorySize: 3})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("published %s at offset %d, delivered to %d\n", s, res.Position.Offset, res.Delivered)
	}

	// A reader that last saw offset 2 asks for what followed.
	h, err := b.History(ctx, "news", 2, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("top %d, oldest retained %d\n", h.Position.Offset, h.First)
	for _, m := range h.Messages {
		fmt.Printf("history: #%d %s\n", m.Offset, m.Data)
	}
	// A reader at offset 0 needs 1, but 1 is gone: it has missed messages.
	fmt.Println("reader at 0 missed messages:", 0+1 < h.First)

	// Output:
	// handler: news #1 a
	// published a at offset 1, delivered to 1
	// handler: news #2 b
	// published b at offset 2, delivered to 1
	// handler: news #3 c
	// published c at offset 3, delivered to 1
	// handler: news #4 d
	// published d at offset 4, delivered to 1
	// top 4, oldest retained 2
	// history: #3 c
	// history: #4 d
	// reader at 0 missed messages: true
}
