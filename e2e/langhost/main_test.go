package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPackagesFromDir(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "package.json"), `{"name":"prog"}`)
	write(t, filepath.Join(dir, "node_modules/@pulumi/pulumi/package.json"), `{"name":"@pulumi/pulumi","version":"3.259.0"}`)
	write(t, filepath.Join(dir, "node_modules/@pulumi/random/package.json"),
		`{"name":"@pulumi/random","version":"4.21.1","pulumi":{"resource":true,"name":"random","version":"4.21.1"}}`)
	write(t, filepath.Join(dir, "node_modules/@pulumi/kubernetes/package.json"),
		`{"name":"@pulumi/kubernetes","version":"4.32.0","pulumi":{"resource":true}}`)
	// A nested policy pack's dependencies are not the program's.
	write(t, filepath.Join(dir, "policy/PulumiPolicy.yaml"), "runtime: nodejs\n")
	write(t, filepath.Join(dir, "policy/node_modules/@pulumi/aws/package.json"),
		`{"name":"@pulumi/aws","version":"7.0.0","pulumi":{"resource":true}}`)

	pkgs, err := packagesFromDir(dir, false, map[string]struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range pkgs {
		if p.Kind != "resource" {
			t.Errorf("%s: kind %q", p.Name, p.Kind)
		}
		got[p.Name] = p.Version
	}
	want := map[string]string{"random": "v4.21.1", "kubernetes": "v4.32.0"}
	if len(got) != len(want) || got["random"] != want["random"] || got["kubernetes"] != want["kubernetes"] {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestConstructConfig(t *testing.T) {
	s, err := constructConfig(map[string]string{"proj:greeting": "hello", "aws:region": "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	if m["proj:config:greeting"] != "hello" || m["aws:config:region"] != "eu-west-1" || len(m) != 2 {
		t.Errorf("unexpected config %v", m)
	}
}

func TestParseOptions(t *testing.T) {
	opts, err := parseOptions(nil)
	if err != nil || !opts.typescript {
		t.Errorf("default: typescript should be true (%v)", err)
	}
	st, _ := structpb.NewStruct(map[string]any{"typescript": false, "nodeargs": "--max-old-space-size=4096 --trace-warnings"})
	opts, err = parseOptions(&pulumirpc.ProgramInfo{Options: st})
	if err != nil || opts.typescript || len(opts.nodeargs) != 2 || len(opts.env()) != 0 {
		t.Errorf("got %+v, %v", opts, err)
	}
	st, _ = structpb.NewStruct(map[string]any{"typescript": "no"})
	if _, err := parseOptions(&pulumirpc.ProgramInfo{Options: st}); err == nil {
		t.Error("expected an error for a non-boolean typescript option")
	}
}
