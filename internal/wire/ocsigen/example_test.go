package ocsigen_test

import (
	"fmt"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func ExampleDecodeRegistration() {
	ids, err := ocsigen.DecodeRegistration([]byte("registration=stateless%3Achat%0Aa%2Bb&registration=c+d"))
	fmt.Printf("%q %v\n", ids, err)
	// Output: ["stateless:chat" "a+b" "c d"] <nil>
}

func ExampleAppendLine() {
	var b []byte
	b = ocsigen.AppendLine(b, "stateless:chat", []byte("hi: you"))
	b = append(b, '\n')
	b = ocsigen.AppendEnded(b, "stateless:gone")
	fmt.Printf("%s\n", b)
	// Output:
	// stateless:chat:hi%3A%20you
	// stateless:gone:ENDED_CHANNEL
}
