package resp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"testing"
)

// BenchmarkReadCommandPipeline parses a pipeline of 1,000 SET commands per
// op.
func BenchmarkReadCommandPipeline(b *testing.B) {
	var in []byte
	for i := range 1000 {
		in = append(in, cmd("SET", "key:"+strconv.Itoa(i), "value-"+strconv.Itoa(i*7919))...)
	}
	for _, size := range []int{4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("buf=%dK", size>>10), func(b *testing.B) {
			src := bytes.NewReader(in)
			br := bufio.NewReaderSize(src, size)
			r := NewReader(br, Limits{})
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(in)
				br.Reset(src)
				r.Reset(br)
				for range 1000 {
					if _, _, err := r.ReadCommand(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkReadReplies reads 1,000 bulk replies of 10 to 1,000 bytes per
// op, with ReadReply, ReadValue and CopyReply.
func BenchmarkReadReplies(b *testing.B) {
	var in []byte
	for i := range 1000 {
		in = AppendBulk(in, bytes.Repeat([]byte{'v'}, 10+i%991))
	}
	for _, how := range []string{"ReadReply", "ReadValue", "CopyReply"} {
		b.Run(how, func(b *testing.B) {
			src := bytes.NewReader(in)
			br := bufio.NewReaderSize(src, 16<<10)
			r := NewReader(br, Limits{})
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(in)
				br.Reset(src)
				r.Reset(br)
				for range 1000 {
					var err error
					switch how {
					case "ReadReply":
						_, err = r.ReadReply()
					case "ReadValue":
						_, _, err = r.ReadValue()
					default:
						_, err = r.CopyReply(io.Discard)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
