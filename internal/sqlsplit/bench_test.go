package sqlsplit_test

import (
	"os"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/sqlsplit"
)

// BenchmarkSplit splits each dialect's corpus files repeated to about 1 MiB.
func BenchmarkSplit(b *testing.B) {
	for _, d := range dialects {
		var sb strings.Builder
		for _, file := range corpusFiles(b) {
			if corpusDialect(b, file) != d || strings.Contains(file, "broken_") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				b.Fatal(err)
			}
			sb.Write(src)
			sb.WriteString("\n;\n")
		}
		src := strings.Repeat(sb.String(), 1<<20/sb.Len()+1)
		b.Run(string(d), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, _, err := sqlsplit.Split(d, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
