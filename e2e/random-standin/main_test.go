package main

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const passURN = "urn:pulumi:dev::p::random:index/randomPassword:RandomPassword::pw"

func props(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshal(m, "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func check(t *testing.T, news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	t.Helper()
	resp, err := (&randomProvider{}).Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: passURN, Type: randomPassType, News: props(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := unmarshal(resp.Inputs, "test")
	if err != nil {
		t.Fatal(err)
	}
	return ins, resp.Failures
}

func TestCheckDefaults(t *testing.T) {
	ins, fails := check(t, resource.PropertyMap{"length": resource.NewProperty(16.0)})
	if len(fails) != 0 {
		t.Fatalf("unexpected failures: %v", fails)
	}
	for _, k := range []resource.PropertyKey{"upper", "lower", "numeric", "number", "special"} {
		if v := ins[k]; !v.IsBool() || !v.BoolValue() {
			t.Errorf("%s: want true, got %v", k, v)
		}
	}
	for _, k := range []resource.PropertyKey{"minUpper", "minLower", "minNumeric", "minSpecial"} {
		if v := ins[k]; !v.IsNumber() || v.NumberValue() != 0 {
			t.Errorf("%s: want 0, got %v", k, v)
		}
	}
	// number follows numeric and vice versa.
	ins, _ = check(t, resource.PropertyMap{"length": resource.NewProperty(8.0), "number": resource.NewProperty(false)})
	if ins["numeric"].BoolValue() {
		t.Error("numeric should follow number=false")
	}
}

func TestCheckValidation(t *testing.T) {
	cases := map[string]resource.PropertyMap{
		"missing length": {},
		"zero length":    {"length": resource.NewProperty(0.0)},
		"sum of mins":    {"length": resource.NewProperty(4.0), "minUpper": resource.NewProperty(3.0), "minNumeric": resource.NewProperty(2.0)},
		"number/numeric": {"length": resource.NewProperty(4.0), "number": resource.NewProperty(true), "numeric": resource.NewProperty(false)},
		"not a bool":     {"length": resource.NewProperty(4.0), "special": resource.NewProperty("yes")},
	}
	for name, news := range cases {
		if _, fails := check(t, news); len(fails) == 0 {
			t.Errorf("%s: expected a check failure", name)
		}
	}
	// Unknown inputs during previews are not failures.
	if _, fails := check(t, resource.PropertyMap{"length": resource.MakeComputed(resource.NewProperty(""))}); len(fails) != 0 {
		t.Errorf("unknown length: unexpected failures %v", fails)
	}
}

func TestCreateString(t *testing.T) {
	p := stringParams{length: 40, upper: true, lower: false, numeric: true, special: false, minUpper: 5, minNumeric: 30}
	for i := 0; i < 50; i++ {
		b, err := createString(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if len(s) != 40 {
			t.Fatalf("length %d", len(s))
		}
		var up, num int
		for _, c := range s {
			switch {
			case strings.ContainsRune(upperChars, c):
				up++
			case strings.ContainsRune(numChars, c):
				num++
			default:
				t.Fatalf("unexpected character %q in %q", c, s)
			}
		}
		if up < 5 || num < 30 {
			t.Fatalf("mins not met in %q: upper=%d numeric=%d", s, up, num)
		}
	}
	if _, err := createString(stringParams{length: 4}); err == nil {
		t.Error("expected an error for an empty character set")
	}
	b, err := createString(stringParams{length: 64, special: true, overrideSpecial: "_"})
	if err != nil || strings.Trim(string(b), "_") != "" {
		t.Errorf("overrideSpecial: %q %v", b, err)
	}
}

func TestCreateDiffPassword(t *testing.T) {
	prov := &randomProvider{}
	ins, _ := check(t, resource.PropertyMap{"length": resource.NewProperty(24.0), "special": resource.NewProperty(false),
		"keepers": resource.NewProperty(resource.PropertyMap{"k": resource.NewProperty("v1")})})

	prev, err := prov.Create(context.Background(), &pulumirpc.CreateRequest{Urn: passURN, Properties: props(t, ins), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	pouts, _ := unmarshal(prev.Properties, "test")
	if !pouts["result"].IsComputed() || !pouts["bcryptHash"].IsComputed() {
		t.Errorf("preview: result/bcryptHash should be unknown: %v", pouts)
	}

	resp, err := prov.Create(context.Background(), &pulumirpc.CreateRequest{Urn: passURN, Properties: props(t, ins)})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Id != "none" {
		t.Errorf("id: want none, got %q", resp.Id)
	}
	outs, _ := unmarshal(resp.Properties, "test")
	result := outs["result"].StringValue()
	if len(result) != 24 || outs["result"].IsSecret() {
		t.Errorf("result %q (secret=%v)", result, outs["result"].IsSecret())
	}
	if err := bcrypt.CompareHashAndPassword([]byte(outs["bcryptHash"].StringValue()), []byte(result)); err != nil {
		t.Errorf("bcryptHash does not match: %v", err)
	}

	diff := func(news resource.PropertyMap) *pulumirpc.DiffResponse {
		d, err := prov.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: passURN, Olds: props(t, outs), News: props(t, news)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := diff(ins); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("same inputs: want no diff, got %v", d)
	}
	changed := ins.Copy()
	changed["keepers"] = resource.NewProperty(resource.PropertyMap{"k": resource.NewProperty("v2")})
	if d := diff(changed); d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 1 || d.Replaces[0] != "keepers" {
		t.Errorf("keepers change: want replace of keepers, got %v", d)
	}
	secretKeepers := ins.Copy()
	secretKeepers["keepers"] = resource.MakeSecret(ins["keepers"])
	if d := diff(secretKeepers); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("same keepers as a secret: want no diff, got %v", d)
	}
}

func TestUnsupportedType(t *testing.T) {
	_, err := (&randomProvider{}).Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: "urn:pulumi:dev::p::random:index/randomPet:RandomPet::x", News: &structpb.Struct{},
	})
	if err == nil {
		t.Error("expected an error for an unsupported type")
	}
}

func TestImportPassword(t *testing.T) {
	resp, err := (&randomProvider{}).Read(context.Background(), &pulumirpc.ReadRequest{Id: "Sup3rSecret", Urn: passURN})
	if err != nil {
		t.Fatal(err)
	}
	outs, _ := unmarshal(resp.Properties, "test")
	if resp.Id != "none" || !outs["result"].IsSecret() || plain(outs["result"]).StringValue() != "Sup3rSecret" ||
		plain(outs["length"]).NumberValue() != 11 {
		t.Errorf("unexpected import: id=%q outs=%v", resp.Id, outs)
	}
}
