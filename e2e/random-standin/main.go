// pulumi-resource-random (STAND-IN, a test double): NOT the real Pulumi random provider.
//
// The real provider (github.com/pulumi/pulumi-random/provider/v4, a Terraform-bridged build of
// terraform-provider-random) cannot be built here: the Go module proxy reachable from this project refuses
// it and github.com/pulumi/pulumi-terraform-bridge/v3 (403). This binary stands in for it in end-to-end
// tests so that programs using @pulumi/random 4.21.1 run under the real engine. It reports plugin version
// 4.21.1 so the engine picks it for that SDK, and implements exactly two resources:
//
//	random:index/randomString:RandomString
//	random:index/randomPassword:RandomPassword
//
// with terraform-provider-random's semantics for their inputs: the same defaults (upper/lower/numeric/
// special true, min* 0, number and numeric kept in sync), the same validation (length >= 1 and >= the sum
// of the min* counts), the same generator (crypto/rand; min* characters first, then the rest from the
// enabled classes, then shuffled), every input change forces a replacement, ids "none" (password) or the
// result (string), bcryptHash for passwords (bcrypt, default cost, first 72 bytes), and import by id.
// Any other resource type, and every function (invoke), is rejected. See e2e/STANDINS.md.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is the plugin version reported to the engine: the @pulumi/random SDK version this stands in for.
var version = "4.21.1"

const (
	providerName      = "random"
	randomStringType  = "random:index/randomString:RandomString"
	randomPassType    = "random:index/randomPassword:RandomPassword"
	defaultSpecial    = "!@#$%&*()-_=+[]{}<>:?"
	numChars          = "0123456789"
	lowerChars        = "abcdefghijklmnopqrstuvwxyz"
	upperChars        = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	bcryptMaxPassword = 72
)

// inputKeys are the resources' inputs (Pulumi names of terraform-provider-random's attributes), in order.
var inputKeys = []resource.PropertyKey{
	"keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper",
	"number", "numeric", "overrideSpecial", "special", "upper",
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-version" || len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version)
		return
	}
	if err := provider.Main(providerName, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &randomProvider{}, nil
	}); err != nil {
		cmdutil.ExitError(err.Error())
	}
}

type randomProvider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

// --- marshaling -----------------------------------------------------------------------------------

// The engine is told (Handshake/Configure) that this provider accepts secrets, so values may arrive wrapped
// as secrets and unknown during previews; both are kept as they are and only looked through when needed.
var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func unmarshal(s *structpb.Struct, label string) (resource.PropertyMap, error) {
	opts := marshalOpts
	opts.Label = label
	return plugin.UnmarshalProperties(s, opts)
}

func marshal(m resource.PropertyMap, label string) (*structpb.Struct, error) {
	opts := marshalOpts
	opts.Label = label
	return plugin.MarshalProperties(m, opts)
}

// plain looks through secrets.
func plain(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func resourceType(urn, typ string) (string, error) {
	t := typ
	if t == "" {
		if i := strings.LastIndex(urn, "::"); i >= 0 {
			t = urn[:i]
			if j := strings.LastIndex(t, "$"); j >= 0 {
				t = t[j+1:]
			}
			if j := strings.LastIndex(t, "::"); j >= 0 {
				t = t[j+2:]
			}
		}
	}
	switch t {
	case randomStringType, randomPassType:
		return t, nil
	}
	return "", status.Errorf(codes.InvalidArgument,
		"pulumi-resource-random stand-in: unsupported resource type %q (only %s and %s are implemented)",
		t, randomStringType, randomPassType)
}

// --- provider lifecycle ---------------------------------------------------------------------------

func (p *randomProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *randomProvider) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true}, nil
}

func (p *randomProvider) Attach(context.Context, *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *randomProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// The random provider has no configuration.
func (p *randomProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *randomProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *randomProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *randomProvider) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return nil, status.Errorf(codes.Unimplemented, "pulumi-resource-random stand-in: function %q is not implemented", req.GetTok())
}

// --- schema ---------------------------------------------------------------------------------------

func (p *randomProvider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	b, err := json.Marshal(schema())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(b)}, nil
}

func schema() map[string]any {
	str := map[string]any{"type": "string"}
	boolean := map[string]any{"type": "boolean"}
	integer := map[string]any{"type": "integer"}
	inputs := map[string]any{
		"keepers":         map[string]any{"type": "object", "additionalProperties": str},
		"length":          integer,
		"lower":           boolean,
		"minLower":        integer,
		"minNumeric":      integer,
		"minSpecial":      integer,
		"minUpper":        integer,
		"number":          map[string]any{"type": "boolean", "deprecationMessage": "**NOTE**: This is deprecated, use `numeric` instead."},
		"numeric":         boolean,
		"overrideSpecial": str,
		"special":         boolean,
		"upper":           boolean,
	}
	required := []string{"length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper", "number", "numeric", "result", "special", "upper"}
	res := func(desc string, extra map[string]any, extraRequired ...string) map[string]any {
		props := map[string]any{}
		for k, v := range inputs {
			props[k] = v
		}
		for k, v := range extra {
			props[k] = v
		}
		req := append(append([]string{}, required...), extraRequired...)
		sort.Strings(req)
		return map[string]any{
			"description":     desc + " (stand-in test double: see backup-platform e2e/STANDINS.md)",
			"properties":      props,
			"required":        req,
			"inputProperties": inputs,
			"requiredInputs":  []string{"length"},
		}
	}
	return map[string]any{
		"name":        providerName,
		"version":     version,
		"description": "STAND-IN for the Pulumi random provider (RandomString and RandomPassword only).",
		"resources": map[string]any{
			randomStringType: res("A random string.", map[string]any{"result": str}),
			randomPassType: res("A random password; result and bcryptHash are secrets.",
				map[string]any{"result": map[string]any{"type": "string", "secret": true},
					"bcryptHash": map[string]any{"type": "string", "secret": true}},
				"bcryptHash"),
		},
	}
}

// --- Check: defaults and validation ---------------------------------------------------------------

type failures []*pulumirpc.CheckFailure

func (f *failures) add(prop, format string, args ...any) {
	*f = append(*f, &pulumirpc.CheckFailure{Property: prop, Reason: fmt.Sprintf(format, args...)})
}

// Check applies terraform-provider-random's defaults and validators.
func (p *randomProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if _, err := resourceType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "Check.news")
	if err != nil {
		return nil, err
	}
	var fails failures
	inputs := resource.PropertyMap{}
	for _, k := range inputKeys {
		if v, ok := news[k]; ok && !v.IsNull() {
			inputs[k] = v
		}
	}
	for k := range news {
		if _, known := inputs[k]; !known && !strings.HasPrefix(string(k), "__") && !isInputKey(k) {
			fails.add(string(k), "unknown property %q for this resource (stand-in provider)", k)
		}
	}

	// Types of the values that are known.
	for _, k := range inputKeys {
		v, ok := inputs[k]
		if !ok {
			continue
		}
		pv := plain(v)
		if pv.ContainsUnknowns() {
			continue
		}
		switch k {
		case "keepers":
			if !pv.IsObject() {
				fails.add(string(k), "keepers must be a map of strings")
			}
		case "overrideSpecial":
			if !pv.IsString() {
				fails.add(string(k), "%s must be a string", k)
			}
		case "lower", "upper", "special", "numeric", "number":
			if !pv.IsBool() {
				fails.add(string(k), "%s must be a boolean", k)
			}
		default: // length, min*
			if !pv.IsNumber() || pv.NumberValue() != math.Trunc(pv.NumberValue()) {
				fails.add(string(k), "%s must be an integer", k)
			} else if k != "length" && pv.NumberValue() < 0 {
				fails.add(string(k), "%s must be at least 0", k)
			}
		}
	}

	// number and numeric are kept in sync (NumberNumericAttributePlanModifier).
	number, hasNumber := inputs["number"]
	numeric, hasNumeric := inputs["numeric"]
	switch {
	case hasNumber && hasNumeric:
		a, b := plain(number), plain(numeric)
		if a.IsBool() && b.IsBool() && a.BoolValue() != b.BoolValue() {
			fails.add("numeric", "number and numeric are both configured with different values (number is deprecated, use numeric instead)")
		}
	case hasNumber:
		inputs["numeric"] = number
	case hasNumeric:
		inputs["number"] = numeric
	default:
		inputs["number"] = resource.NewProperty(true)
		inputs["numeric"] = resource.NewProperty(true)
	}
	for _, k := range []resource.PropertyKey{"lower", "upper", "special"} {
		if _, ok := inputs[k]; !ok {
			inputs[k] = resource.NewProperty(true)
		}
	}
	for _, k := range []resource.PropertyKey{"minLower", "minNumeric", "minSpecial", "minUpper"} {
		if _, ok := inputs[k]; !ok {
			inputs[k] = resource.NewProperty(0.0)
		}
	}

	// length: required, >= 1, >= minUpper + minLower + minNumeric + minSpecial.
	if l, ok := inputs["length"]; !ok {
		fails.add("length", "Missing required property 'length'")
	} else if pl := plain(l); pl.IsNumber() {
		if pl.NumberValue() < 1 {
			fails.add("length", "length must be at least 1, got: %v", pl.NumberValue())
		}
		sum, known := 0.0, true
		for _, k := range []resource.PropertyKey{"minUpper", "minLower", "minNumeric", "minSpecial"} {
			if v := plain(inputs[k]); v.IsNumber() {
				sum += v.NumberValue()
			} else {
				known = false
			}
		}
		if known && pl.NumberValue() < sum {
			fails.add("length", "length must be at least the sum of minUpper, minLower, minNumeric and minSpecial (%v), got: %v",
				sum, pl.NumberValue())
		}
	}

	out, err := marshal(inputs, "Check.inputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: out, Failures: fails}, nil
}

func isInputKey(k resource.PropertyKey) bool {
	for _, ik := range inputKeys {
		if ik == k {
			return true
		}
	}
	return false
}

// --- Diff: every input change replaces -------------------------------------------------------------

func (p *randomProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if _, err := resourceType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds(), "Diff.olds")
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "Diff.news")
	if err != nil {
		return nil, err
	}
	var replaces []string
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for _, k := range inputKeys {
		o, hasOld := olds[k]
		n, hasNew := news[k]
		if inputEqual(k, o, hasOld, n, hasNew) {
			continue
		}
		kind := pulumirpc.PropertyDiff_UPDATE_REPLACE
		switch {
		case !hasOld || o.IsNull():
			kind = pulumirpc.PropertyDiff_ADD_REPLACE
		case !hasNew || n.IsNull():
			kind = pulumirpc.PropertyDiff_DELETE_REPLACE
		}
		replaces = append(replaces, string(k))
		detailed[string(k)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(replaces) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}, nil
	}
	return &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_SOME,
		Replaces:        replaces,
		Diffs:           replaces,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}, nil
}

// inputEqual compares an input's old and new values, looking through secrets. Unknown new values count as
// changes. As in terraform-provider-random, "" and an absent overrideSpecial are equal, and so are an empty
// and an absent keepers map.
func inputEqual(k resource.PropertyKey, o resource.PropertyValue, hasOld bool, n resource.PropertyValue, hasNew bool) bool {
	if hasNew && n.ContainsUnknowns() {
		return false
	}
	empty := func(v resource.PropertyValue, has bool) bool {
		if !has || v.IsNull() {
			return true
		}
		pv := plain(v)
		switch k {
		case "overrideSpecial":
			return pv.IsString() && pv.StringValue() == ""
		case "keepers":
			return pv.IsObject() && len(pv.ObjectValue()) == 0
		}
		return false
	}
	if empty(o, hasOld) && empty(n, hasNew) {
		return true
	}
	if !hasOld || !hasNew {
		return false
	}
	return stripSecrets(o).DeepEquals(stripSecrets(n))
}

func stripSecrets(v resource.PropertyValue) resource.PropertyValue {
	v = plain(v)
	if v.IsObject() {
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = stripSecrets(e)
		}
		return resource.NewProperty(m)
	}
	if v.IsArray() {
		a := make([]resource.PropertyValue, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			a = append(a, stripSecrets(e))
		}
		return resource.NewProperty(a)
	}
	return v
}

// --- Create / Read / Update / Delete ---------------------------------------------------------------

type stringParams struct {
	length                                     int64
	upper, lower, numeric, special             bool
	minUpper, minLower, minNumeric, minSpecial int64
	overrideSpecial                            string
}

func paramsFrom(m resource.PropertyMap) (stringParams, error) {
	num := func(k resource.PropertyKey) (int64, error) {
		v := plain(m[k])
		if !v.IsNumber() {
			return 0, fmt.Errorf("%s must be a known integer", k)
		}
		return int64(v.NumberValue()), nil
	}
	boolean := func(k resource.PropertyKey) (bool, error) {
		v := plain(m[k])
		if !v.IsBool() {
			return false, fmt.Errorf("%s must be a known boolean", k)
		}
		return v.BoolValue(), nil
	}
	var p stringParams
	var errs []error
	var err error
	p.length, err = num("length")
	errs = append(errs, err)
	p.minUpper, err = num("minUpper")
	errs = append(errs, err)
	p.minLower, err = num("minLower")
	errs = append(errs, err)
	p.minNumeric, err = num("minNumeric")
	errs = append(errs, err)
	p.minSpecial, err = num("minSpecial")
	errs = append(errs, err)
	p.upper, err = boolean("upper")
	errs = append(errs, err)
	p.lower, err = boolean("lower")
	errs = append(errs, err)
	p.numeric, err = boolean("numeric")
	errs = append(errs, err)
	p.special, err = boolean("special")
	errs = append(errs, err)
	if v := plain(m["overrideSpecial"]); v.IsString() {
		p.overrideSpecial = v.StringValue()
	}
	return p, errors.Join(errs...)
}

// createString is terraform-provider-random's internal/random.CreateString: min* characters of each class
// first (even for a disabled class, as upstream), the rest from the enabled classes, then a random shuffle.
func createString(in stringParams) ([]byte, error) {
	specialChars := defaultSpecial
	if in.overrideSpecial != "" {
		specialChars = in.overrideSpecial
	}
	chars := ""
	if in.upper {
		chars += upperChars
	}
	if in.lower {
		chars += lowerChars
	}
	if in.numeric {
		chars += numChars
	}
	if in.special {
		chars += specialChars
	}
	result := make([]byte, 0, in.length)
	for _, m := range []struct {
		set string
		n   int64
	}{{numChars, in.minNumeric}, {lowerChars, in.minLower}, {upperChars, in.minUpper}, {specialChars, in.minSpecial}} {
		s, err := randomBytes(m.set, m.n)
		if err != nil {
			return nil, err
		}
		result = append(result, s...)
	}
	s, err := randomBytes(chars, in.length-int64(len(result)))
	if err != nil {
		return nil, err
	}
	result = append(result, s...)

	// Fisher-Yates with crypto/rand (upstream sorts by random keys; both give a random permutation).
	for i := len(result) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return nil, err
		}
		result[i], result[j.Int64()] = result[j.Int64()], result[i]
	}
	return result, nil
}

func randomBytes(charSet string, n int64) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	if charSet == "" {
		return nil, errors.New("the character set specified is empty: enable at least one of upper, lower, numeric, special")
	}
	out := make([]byte, n)
	setLen := big.NewInt(int64(len(charSet)))
	for i := range out {
		idx, err := rand.Int(rand.Reader, setLen)
		if err != nil {
			return nil, err
		}
		out[i] = charSet[idx.Int64()]
	}
	return out, nil
}

// bcryptHash is terraform-provider-random's generateHash: bcrypt, default cost, first 72 bytes.
func bcryptHash(s string) (string, error) {
	b := []byte(s)
	if len(b) > bcryptMaxPassword {
		b = b[:bcryptMaxPassword]
	}
	h, err := bcrypt.GenerateFromPassword(b, bcrypt.DefaultCost)
	return string(h), err
}

func (p *randomProvider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	typ, err := resourceType(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetProperties(), "Create.properties")
	if err != nil {
		return nil, err
	}
	outs := inputs.Copy()
	isPassword := typ == randomPassType

	if req.GetPreview() {
		outs["result"] = resource.MakeComputed(resource.NewProperty(""))
		if isPassword {
			outs["bcryptHash"] = resource.MakeComputed(resource.NewProperty(""))
		}
		s, err := marshal(outs, "Create.preview")
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Properties: s}, nil
	}

	params, err := paramsFrom(inputs)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid inputs: %v", err)
	}
	result, err := createString(params)
	if err != nil {
		return nil, err
	}
	outs["result"] = resource.NewProperty(string(result))
	id := string(result)
	if isPassword {
		h, err := bcryptHash(string(result))
		if err != nil {
			return nil, fmt.Errorf("generating bcrypt hash: %w", err)
		}
		outs["bcryptHash"] = resource.NewProperty(h)
		id = "none"
	}
	s, err := marshal(outs, "Create.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: s}, nil
}

// Read returns the state unchanged (nothing exists outside the state). With no state it imports: the id is
// the value, as in terraform-provider-random's ImportState (an imported password's result and bcryptHash
// are returned as secrets).
func (p *randomProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	typ, err := resourceType(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	state, err := unmarshal(req.GetProperties(), "Read.properties")
	if err != nil {
		return nil, err
	}
	if len(state) > 0 {
		inputs := req.GetInputs()
		if inputs == nil || len(inputs.GetFields()) == 0 {
			ins := resource.PropertyMap{}
			for _, k := range inputKeys {
				if v, ok := state[k]; ok {
					ins[k] = v
				}
			}
			if inputs, err = marshal(ins, "Read.inputs"); err != nil {
				return nil, err
			}
		}
		return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: inputs}, nil
	}

	// Import.
	value := req.GetId()
	if value == "" {
		return &pulumirpc.ReadResponse{}, nil
	}
	ins := resource.PropertyMap{
		"length":     resource.NewProperty(float64(len(value))),
		"special":    resource.NewProperty(true),
		"upper":      resource.NewProperty(true),
		"lower":      resource.NewProperty(true),
		"number":     resource.NewProperty(true),
		"numeric":    resource.NewProperty(true),
		"minSpecial": resource.NewProperty(0.0),
		"minUpper":   resource.NewProperty(0.0),
		"minLower":   resource.NewProperty(0.0),
		"minNumeric": resource.NewProperty(0.0),
	}
	outs := ins.Copy()
	outs["result"] = resource.NewProperty(value)
	id := value
	if typ == randomPassType {
		h, err := bcryptHash(value)
		if err != nil {
			return nil, fmt.Errorf("generating bcrypt hash: %w", err)
		}
		// A password imported by value must not land in the state in plaintext: no program (and so no
		// additionalSecretOutputs) is involved in `pulumi import`.
		outs["result"] = resource.MakeSecret(outs["result"])
		outs["bcryptHash"] = resource.MakeSecret(resource.NewProperty(h))
		id = "none"
	}
	so, err := marshal(outs, "Read.import.outputs")
	if err != nil {
		return nil, err
	}
	si, err := marshal(ins, "Read.import.inputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: id, Properties: so, Inputs: si}, nil
}

// Update is only reached for changes Diff does not report (none, since every change replaces); like
// upstream it takes the new inputs and keeps the generated values.
func (p *randomProvider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if _, err := resourceType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds(), "Update.olds")
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "Update.news")
	if err != nil {
		return nil, err
	}
	outs := news.Copy()
	for _, k := range []resource.PropertyKey{"result", "bcryptHash"} {
		if v, ok := olds[k]; ok {
			outs[k] = v
		}
	}
	s, err := marshal(outs, "Update.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: s}, nil
}

func (p *randomProvider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if _, err := resourceType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
