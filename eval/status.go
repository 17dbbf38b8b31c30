package eval

import (
	"fmt"
	"io"
	"strings"
)

// statusWarn is a warn function (as ReadRun and MergeOptions take) that
// prints each warning as one line on w: the message, then its key=value
// pairs.
func statusWarn(w io.Writer) func(msg string, args ...any) {
	return func(msg string, args ...any) {
		var b strings.Builder
		b.WriteString(msg)
		for i := 0; i+1 < len(args); i += 2 {
			fmt.Fprintf(&b, " %v=%v", args[i], args[i+1])
		}
		fmt.Fprintln(w, b.String())
	}
}
