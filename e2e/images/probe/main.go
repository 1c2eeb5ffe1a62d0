// Command probe is the first workload run on the e2e node (issue 16): a static binary in a scratch image that
// serves GET /healthz (the readiness probe) and GET / (what it sees: user, whether / is writable, and the status of
// GET /version from the API server through the `kubernetes` Service with its service account token) on :8080.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// apiserver: the status of GET /version at the in-cluster address, or the error.
func apiserver() string {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" {
		return "no-service-env"
	}
	ca, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return "no-ca"
	}
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return "no-token"
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+net.JoinHostPort(host, port)+"/version", nil)
	req.Header.Set("Authorization", "Bearer "+string(token))
	res, err := c.Do(req)
	if err != nil {
		return "error"
	}
	res.Body.Close()
	return fmt.Sprint(res.StatusCode)
}

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
		fmt.Fprintf(w, "uid=%d gid=%d rootWritable=%t apiserver=%s\n", os.Getuid(), os.Getgid(), rootWritable, apiserver())
	})
	log.Printf("probe listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
