// pulumi-language-nodejs (stand-in): a minimal Node.js language host for the Pulumi engine v3.259.0.
//
// Why it exists: the real host lives in the nested module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, which the Go module proxy reachable
// from this project refuses (403). Without a language host the `pulumi` CLI cannot run a Node.js program
// nor a Node.js policy pack. This host implements the subset of pulumirpc.LanguageRuntimeServer that the
// engine uses for `pulumi up/preview/refresh/destroy` of precompiled JavaScript programs and for
// `pulumi preview --policy-pack <dir>`, following the contract of the real host (it spawns the Node SDK's
// own entry points @pulumi/pulumi/cmd/run and cmd/run-policy-pack with the same flags and environment).
// See e2e/STANDINS.md for what is implemented and what is not.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is the plugin version reported to the engine (GetPluginInfo); it matches the CLI it is built for.
// Override with -ldflags "-X main.version=...".
var version = "3.259.0"

const (
	// Module of the Node SDK that runs a program; PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it (as in the real host).
	defaultRunPath = "@pulumi/pulumi/cmd/run"
	// Module that runs a non-policy plugin (a Node.js provider/component) for RunPlugin.
	defaultRunPluginPath = "@pulumi/pulumi/cmd/run-plugin"
	// Module that boots a Node.js policy pack for RunPlugin(kind=analyzer).
	runPolicyPackPath = "@pulumi/pulumi/cmd/run-policy-pack"

	// Environment read by @pulumi/pulumi/runtime/config.js.
	pulumiConfigVar           = "PULUMI_CONFIG"
	pulumiConfigSecretKeysVar = "PULUMI_CONFIG_SECRET_KEYS" //nolint:gosec // a variable name, not a secret

	// Exit code of @pulumi/pulumi/cmd/run when it already reported the error to the user
	// (nodeJSProcessExitedAfterLoggingUserActionableMessage in cmd/run/index.js): the engine must bail
	// without printing anything more.
	nodeJSProcessExitedAfterShowingUserActionableMessage = 32
)

func main() {
	var tracing string
	flag.StringVar(&tracing, "tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint")
	var runtimeName string
	flag.StringVar(&runtimeName, "runtime", "nodejs", "Runtime to use; only `nodejs` is supported by this stand-in")
	showVersion := flag.Bool("version", false, "Print the plugin version and exit")
	flag.Parse()

	if *showVersion {
		fmt.Println(version)
		return
	}

	logging.InitLogging(false, 0, false)
	cmdutil.InitTracing("pulumi-language-nodejs", "pulumi-language-nodejs", tracing)

	if runtimeName != "nodejs" {
		cmdutil.Exit(fmt.Errorf("unsupported runtime: %s (this stand-in only runs Node.js)", runtimeName))
	}

	// The engine passes its address as the only positional argument (buildArgsForNewPlugin in
	// pkg/resource/plugin/langruntime_plugin.go). When attached for debugging it comes via Handshake.
	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		cancel()
		close(cancelChannel)
	}()

	if engineAddress != "" {
		// Exit when the engine goes away, like every Pulumi plugin.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start health check host RPC server: %w", err))
		}
	}

	host := newLanguageHost(engineAddress, tracing, cancel)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.TracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}

	// The plugin protocol: the first line on stdout is the port the engine dials.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

type nodeLanguageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string

	// cancelCtx is cancelled by the Cancel RPC; running programs are interrupted then.
	cancelCtx  context.Context
	cancelFunc context.CancelFunc
	// shutdown stops the gRPC server (used when the engine stops answering health checks).
	shutdown context.CancelFunc
}

func newLanguageHost(engineAddress, tracing string, shutdown context.CancelFunc) *nodeLanguageHost {
	ctx, cancel := context.WithCancel(context.Background())
	return &nodeLanguageHost{
		engineAddress: engineAddress,
		tracing:       tracing,
		cancelCtx:     ctx,
		cancelFunc:    cancel,
		shutdown:      shutdown,
	}
}

func (host *nodeLanguageHost) engine() string {
	host.mu.Lock()
	defer host.mu.Unlock()
	return host.engineAddress
}

// --- options ------------------------------------------------------------------------------------

// nodeOptions are the Pulumi.yaml `runtime.options` the real host understands. packagemanager is accepted
// and ignored (dependency installation is not implemented).
type nodeOptions struct {
	typescript   bool
	tsconfigpath string
	nodeargs     []string
}

func parseOptions(info *pulumirpc.ProgramInfo) (nodeOptions, error) {
	opts := nodeOptions{typescript: true} // the real host's default
	if info == nil || info.Options == nil {
		return opts, nil
	}
	options := info.Options.AsMap()
	if v, ok := options["typescript"]; ok {
		b, ok := v.(bool)
		if !ok {
			return opts, errors.New("typescript option must be a boolean")
		}
		opts.typescript = b
	}
	if v, ok := options["tsconfig"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("tsconfig option must be a string")
		}
		opts.tsconfigpath = s
	}
	if v, ok := options["nodeargs"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("nodeargs option must be a string")
		}
		// The real host splits with shell quoting rules; whitespace splitting covers plain flags.
		opts.nodeargs = strings.Fields(s)
	}
	if v, ok := options["packagemanager"]; ok {
		if _, ok := v.(string); !ok {
			return opts, errors.New("packagemanager option must be a string")
		}
	}
	return opts, nil
}

func (o nodeOptions) env() []string {
	var env []string
	if o.typescript {
		// @pulumi/pulumi/cmd/run registers ts-node from the program's node_modules when this is set.
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfigpath != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfigpath)
	}
	return env
}

// --- helpers ------------------------------------------------------------------------------------

func findNode() (string, error) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	return nodeBin, nil
}

// locateModule resolves a module with Node's own resolution from dir (so hoisted/parent node_modules work).
func locateModule(ctx context.Context, nodeBin, mod, dir, installHint string) (string, error) {
	script := fmt.Sprintf(`try { console.log(require.resolve(%q)); } catch (error) { `+
		`if (error.code === "MODULE_NOT_FOUND") { console.error("It looks like the Pulumi SDK has not been installed. `+
		`Have you run %s?"); } else { console.error(error.message); } process.exit(1); }`, mod, installHint)
	cmd := exec.CommandContext(ctx, nodeBin, "-e", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", errors.New(strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func programDirectory(info *pulumirpc.ProgramInfo, fallback string) string {
	if info != nil && info.ProgramDirectory != "" {
		return info.ProgramDirectory
	}
	return fallback
}

// --- Handshake / info ---------------------------------------------------------------------------

func (host *nodeLanguageHost) Handshake(ctx context.Context,
	req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	host.mu.Lock()
	host.engineAddress = req.EngineAddress
	host.mu.Unlock()
	if req.EngineAddress != "" {
		// Stop serving when the engine stops answering, as when the address came on the command line.
		if err := rpcutil.Healthcheck(host.cancelCtx, req.EngineAddress, 5*time.Minute, host.shutdown); err != nil {
			return nil, fmt.Errorf("could not start health check: %w", err)
		}
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (host *nodeLanguageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (host *nodeLanguageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	nodeBin, err := findNode()
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.AboutResponse{
		Executable: nodeBin,
		Metadata: map[string]string{
			"packagemanager": "npm",
			"languagehost":   "stand-in (backup-platform e2e/langhost)",
		},
	}
	if out, err := exec.CommandContext(ctx, nodeBin, "--version").Output(); err == nil {
		resp.Version = strings.TrimSpace(string(out))
	}
	return resp, nil
}

func (host *nodeLanguageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	host.cancelFunc()
	return &emptypb.Empty{}, nil
}

// --- dependencies -------------------------------------------------------------------------------

// InstallDependencies does not install anything: it reports success so `pulumi install`/`pulumi new` do not
// fail, and says what to run instead. Dependencies must be installed with npm ci beforehand.
func (host *nodeLanguageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, _, err := rpcutil.MakeInstallDependenciesStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	dir := programDirectory(req.Info, req.Directory)
	fmt.Fprintf(stdout, "pulumi-language-nodejs stand-in: not installing dependencies; "+
		"run `npm ci` in %s yourself.\n", dir)
	return closer.Close()
}

type packageJSON struct {
	Name            string                  `json:"name"`
	Version         string                  `json:"version"`
	Pulumi          plugin.PulumiPluginJSON `json:"pulumi"`
	Dependencies    map[string]string       `json:"dependencies"`
	DevDependencies map[string]string       `json:"devDependencies"`
}

func readPackageJSON(path string) (*packageJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("unmarshaling %s: %w", path, err)
	}
	return &p, nil
}

// pluginName mirrors the real host: "pulumi.name" if set, else the @pulumi/ scoped package's simple name.
func pluginName(info *packageJSON) (string, error) {
	if info.Pulumi.Name != "" {
		return info.Pulumi.Name, nil
	}
	if info.Name == "" {
		return "", errors.New(`missing expected "name" property`)
	}
	if after, ok := strings.CutPrefix(info.Name, "@pulumi/"); ok {
		return after, nil
	}
	return "", fmt.Errorf(`missing property "name" for the third-party plugin '%v' `+
		`inside package.json under the "pulumi" section`, info.Name)
}

func pluginVersion(info *packageJSON) (string, error) {
	v := info.Pulumi.Version
	if v == "" {
		v = info.Version
	}
	if v == "" {
		return "", errors.New(`missing expected "version" property`)
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return v, nil
}

// packagesFromDir walks dir like the real host: every package.json inside a node_modules tree whose
// "pulumi.resource" is true names a resource plugin. Nested policy packs are skipped (their plugins are not
// the program's), symlinks are followed once.
func packagesFromDir(dir string, inNodeModules bool, visited map[string]struct{}) ([]*pulumirpc.PackageDependency, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, seen := visited[dir]; seen {
		return nil, nil
	}
	visited[dir] = struct{}{}

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading plugin dir %s: %w", dir, err)
	}
	var pkgs []*pulumirpc.PackageDependency
	var errs []error
	for _, e := range entries {
		curr := filepath.Join(dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			resolved, err := filepath.EvalSymlinks(curr)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			fi, err := os.Stat(resolved)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			curr, isDir = resolved, fi.IsDir()
		}
		switch {
		case isDir:
			if pack, err := workspace.DetectPolicyPackPathAt(curr); err != nil {
				errs = append(errs, err)
				continue
			} else if pack != "" {
				continue
			}
			more, err := packagesFromDir(curr, inNodeModules || filepath.Base(dir) == "node_modules", visited)
			if err != nil {
				errs = append(errs, err)
			}
			pkgs = append(pkgs, more...)
		case inNodeModules && e.Name() == "package.json":
			info, err := readPackageJSON(curr)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !info.Pulumi.Resource {
				continue
			}
			name, err := pluginName(info)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", curr, err))
				continue
			}
			v, err := pluginVersion(info)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", curr, err))
				continue
			}
			dep := &pulumirpc.PackageDependency{Name: name, Kind: string(apitype.ResourcePlugin), Version: v, Server: info.Pulumi.Server}
			if p := info.Pulumi.Parameterization; p != nil {
				dep.Parameterization = &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
			}
			pkgs = append(pkgs, dep)
		}
	}
	return pkgs, errors.Join(errs...)
}

func (host *nodeLanguageHost) GetRequiredPackages(ctx context.Context,
	req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	pkgs, err := packagesFromDir(programDirectory(req.Info, "."), false, map[string]struct{}{})
	if err != nil {
		// Like the real host: discovery problems are logged, not fatal.
		logging.V(3).Infof("one or more errors while discovering plugins: %s", err)
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: pkgs}, nil
}

// GetRequiredPlugins is deprecated (the engine calls GetRequiredPackages first); answered for older callers.
func (host *nodeLanguageHost) GetRequiredPlugins(ctx context.Context,
	req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := programDirectory(req.Info, req.Program)
	pkgs, err := packagesFromDir(dir, false, map[string]struct{}{})
	if err != nil {
		logging.V(3).Infof("one or more errors while discovering plugins: %s", err)
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(pkgs))
	for _, p := range pkgs {
		plugins = append(plugins, &pulumirpc.PluginDependency{Name: p.Name, Kind: p.Kind, Version: p.Version, Server: p.Server})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// GetProgramDependencies lists package.json's dependencies and devDependencies with the versions installed in
// node_modules (the declared range when not installed). The real host asks the package manager (`npm ls`);
// transitive listing is not implemented (the direct ones are returned either way).
func (host *nodeLanguageHost) GetProgramDependencies(ctx context.Context,
	req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := programDirectory(req.Info, req.Pwd)
	root, err := findUp(dir, "package.json")
	if err != nil {
		return nil, fmt.Errorf("failed to get node dependencies: %w", err)
	}
	pkg, err := readPackageJSON(root)
	if err != nil {
		return nil, fmt.Errorf("failed to get node dependencies: %w", err)
	}
	all := map[string]string{}
	for k, v := range pkg.DevDependencies {
		all[k] = v
	}
	for k, v := range pkg.Dependencies {
		all[k] = v
	}
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	deps := make([]*pulumirpc.DependencyInfo, 0, len(names))
	for _, name := range names {
		v := all[name]
		if installed, err := readPackageJSON(filepath.Join(filepath.Dir(root), "node_modules", name, "package.json")); err == nil &&
			installed.Version != "" {
			v = installed.Version
		}
		deps = append(deps, &pulumirpc.DependencyInfo{Name: name, Version: v})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

func findUp(dir, name string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s in %s or its parents", name, dir)
		}
		dir = parent
	}
}

// --- Run ----------------------------------------------------------------------------------------

// Run executes the program with `node @pulumi/pulumi/cmd/run <flags> <entry point> <args...>`, wiring the
// flags and environment exactly as cmd/run/index.js and runtime/state.js expect them. Unlike the real host it
// hands the engine's monitor address straight to Node instead of proxying it: the proxy only existed to serve
// synchronous invokes over files (--sync), which @pulumi/pulumi 3.259.0 no longer uses.
func (host *nodeLanguageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if req.GetAttachDebugger() {
		return &pulumirpc.RunResponse{Error: "pulumi-language-nodejs stand-in: attaching a debugger is not supported"}, nil
	}
	engineAddress := host.engine()
	if engineAddress == "" {
		return nil, errors.New("when debugging or running explicitly, must call Handshake before Run")
	}
	nodeBin, err := findNode()
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	opts, err := parseOptions(req.Info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	progDir := programDirectory(req.Info, req.Pwd)

	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runPath == "" {
		runPath = defaultRunPath
	}
	runPath, err = locateModule(ctx, nodeBin, runPath, progDir, "npm install (or npm ci)")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	configJSON, err := constructConfig(req.GetConfig())
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("failed to serialize configuration: %v", err)}, nil
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("failed to serialize configuration secret keys: %v", err)}, nil
	}

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runPath)
	appendFlag := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	appendFlag("monitor", req.GetMonitorAddress())
	appendFlag("engine", engineAddress)
	appendFlag("organization", req.GetOrganization())
	appendFlag("project", req.GetProject())
	if req.Info != nil {
		appendFlag("root-directory", req.Info.RootDirectory)
	}
	appendFlag("stack", req.GetStack())
	appendFlag("pwd", progDir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	appendFlag("parallel", strconv.Itoa(int(req.GetParallel())))
	appendFlag("tracing", host.tracing)
	entryPoint := "."
	if req.Info != nil && req.Info.EntryPoint != "" {
		entryPoint = req.Info.EntryPoint
	} else if req.Program != "" {
		entryPoint = req.Program
	}
	args = append(args, entryPoint)
	args = append(args, req.GetArgs()...)

	env := os.Environ()
	env = append(env, pulumiConfigVar+"="+configJSON, pulumiConfigSecretKeysVar+"="+string(secretKeysJSON))
	env = append(env, opts.env()...)

	// Interrupt node when the Cancel RPC fires or the engine abandons the request.
	cmdCtx, cmdCancel := context.WithCancel(host.cancelCtx)
	defer cmdCancel()
	stop := context.AfterFunc(ctx, cmdCancel)
	defer stop()

	cmd := exec.CommandContext(cmdCtx, nodeBin, args...)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = env
	// Node may switch its stdio to non-blocking mode; never hand it our own file descriptors.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	logging.V(5).Infof("Language host launching process: %s %s", nodeBin, strings.Join(args, " "))

	if err := cmd.Run(); err != nil {
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			switch code := exitErr.ExitCode(); code {
			case nodeJSProcessExitedAfterShowingUserActionableMessage:
				return &pulumirpc.RunResponse{Bail: true}, nil
			case 0:
				return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited unexpectedly: %v", exitErr)}, nil
			default:
				return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}, nil
			}
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// constructConfig serializes the config bag the way the real host does: keys as "<namespace>:config:<name>"
// (the Node SDK accepts both that and "<namespace>:<name>").
func constructConfig(configMap map[string]string) (string, error) {
	if configMap == nil {
		return "{}", nil
	}
	out := make(map[string]string, len(configMap))
	for k, v := range configMap {
		pk, err := config.ParseKey(k)
		if err != nil {
			return "", err
		}
		out[pk.Namespace()+":config:"+pk.Name()] = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// --- RunPlugin (policy packs, Node.js plugins) ---------------------------------------------------

// RunPlugin runs a plugin written in Node.js. For kind=analyzer (a policy pack) it follows the real host:
// sdk.PolicyProxy answers the engine's Handshake/ConfigureStack itself, the pack is then started with
// `node @pulumi/pulumi/cmd/run-policy-pack <engine args...> <pack dir>` in the pack directory and the
// stack's organization/project/stack/dry-run/config in PULUMI_NODEJS_* and PULUMI_CONFIG, and every later
// analyzer call is proxied to the port the pack prints.
func (host *nodeLanguageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	ctx := server.Context()
	if req.GetAttachDebugger() {
		return status.Error(codes.Unimplemented, "pulumi-language-nodejs stand-in: attaching a debugger is not supported")
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	nodeBin, err := findNode()
	if err != nil {
		return err
	}
	opts, err := parseOptions(req.Info)
	if err != nil {
		return err
	}
	progDir := programDirectory(req.Info, req.Pwd)
	isAnalyzer := req.Kind == string(apitype.AnalyzerPlugin)

	env := append([]string{}, req.Env...)
	env = append(env, opts.env()...)

	var runPath string
	if isAnalyzer {
		runPath = runPolicyPackPath
	} else {
		runPath = os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
		if runPath == "" {
			runPath = defaultRunPluginPath
		}
	}
	runPath, err = locateModule(ctx, nodeBin, runPath, progDir, "npm install in "+progDir)
	if err != nil {
		return err
	}

	args := []string{runPath}
	args = append(args, opts.nodeargs...)
	if isAnalyzer {
		// run-policy-pack: RUN <engine-address> <program>; the program directory comes last.
		args = append(args, req.Args...)
		args = append(args, progDir)
	} else {
		args = append(args, progDir)
		args = append(args, req.Args...)
	}

	var proxy *sdk.PolicyProxy
	if isAnalyzer {
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start policy pack proxy: %w", err)
		}
		// Prints the proxy's port for the engine, then waits for ConfigureStack (or any other call).
		cfg, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get stack configuration: %w", err)
		}
		if cfg != nil {
			appendEnv := func(k, v string) {
				if v != "" {
					env = append(env, k+"="+v)
				}
			}
			appendEnv("PULUMI_NODEJS_ORGANIZATION", cfg.Organization)
			appendEnv("PULUMI_NODEJS_PROJECT", cfg.Project)
			appendEnv("PULUMI_NODEJS_STACK", cfg.Stack)
			appendEnv("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(cfg.DryRun))
			if cfg.Config != nil {
				b, err := json.Marshal(cfg.Config)
				if err != nil {
					return fmt.Errorf("could not marshal stack configuration: %w", err)
				}
				appendEnv(pulumiConfigVar, string(b))
			}
		}
	}

	cmd := exec.CommandContext(ctx, nodeBin, args...)
	if isAnalyzer {
		// Node policy packs always ran with the pack directory as working directory.
		cmd.Dir = progDir
	} else {
		cmd.Dir = req.Pwd
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	logging.V(5).Infof("RunPlugin: %s %s (in %s)", nodeBin, strings.Join(args, " "), cmd.Dir)

	run := func() error {
		if err := cmd.Start(); err != nil {
			return err
		}
		if proxy != nil {
			// Reads the pack's port from its stdout, connects, forwards the stack configuration, and
			// returns when the pack exits.
			if err := proxy.Attach(ctx, cmd); err != nil {
				return fmt.Errorf("could not attach policy pack proxy: %w", err)
			}
			return nil
		}
		return cmd.Wait()
	}
	if err := run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("Program exited with non-zero exit code: %d", exitErr.ExitCode()) //nolint:staticcheck
		}
		return fmt.Errorf("Problem executing plugin program (could not run language executor): %w", err) //nolint:staticcheck
	}
	return closer.Close()
}
