package resp_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/cogs-dev/cogs/host/internal/resp"
)

func ExampleReader_ReadCommand() {
	in := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nGET \"k\"\r\n*1\r\n$-1\r\n"
	r := resp.NewReader(bufio.NewReader(strings.NewReader(in)), resp.Limits{})
	for {
		args, raw, err := r.ReadCommand()
		if err != nil {
			// A front end replies with the error's text, then closes.
			fmt.Printf("%q\n", resp.AppendError(nil, err.Error()))
			return
		}
		fmt.Printf("%q from %q\n", args, raw)
	}
	// Output:
	// ["SET" "k" "hello"] from "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
	// ["GET" "k"] from "GET \"k\"\r\n"
	// "-ERR Protocol error: invalid bulk length\r\n"
}

func ExampleReader_ReadValue() {
	in := "|1\r\n+ttl\r\n:60\r\n%1\r\n$4\r\nname\r\n$3\r\ncar\r\n"
	r := resp.NewReader(bufio.NewReader(strings.NewReader(in)), resp.Limits{})
	v, raw, err := r.ReadValue()
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Kind, len(raw) == len(in))
	fmt.Printf("%s=%s, %s=%d\n", v.Elems[0].Str, v.Elems[1].Str, v.Attr[0].Str, v.Attr[1].Int)
	// Output:
	// map true
	// name=car, ttl=60
}

func ExampleAppendCommand() {
	b := resp.AppendCommand(nil, []byte("HSET"), []byte("car:1"), []byte("make"), []byte("Saab"))
	fmt.Printf("%q\n", b)
	b = resp.AppendMapHeader(b[:0], 1, 2)
	b = resp.AppendBulkString(b, "make")
	b = resp.AppendNull(b, 2)
	fmt.Printf("%q\n", b)
	// Output:
	// "*4\r\n$4\r\nHSET\r\n$5\r\ncar:1\r\n$4\r\nmake\r\n$4\r\nSaab\r\n"
	// "*2\r\n$4\r\nmake\r\n$-1\r\n"
}
