// Command probe is the first workload run on the e2e node (issue 16): a static binary in a scratch image that
// serves GET /healthz (the readiness probe) and GET / (what it sees: user, whether / is writable) on :8080.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		rootWritable := true
		if f, err := os.CreateTemp("/", "probe-"); err != nil {
			rootWritable = false
		} else {
			f.Close()
			os.Remove(f.Name())
		}
		fmt.Fprintf(w, "uid=%d gid=%d rootWritable=%t\n", os.Getuid(), os.Getgid(), rootWritable)
	})
	log.Printf("probe listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
