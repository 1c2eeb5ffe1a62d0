// The layers (README "How the code is laid out"): data flows config -> platform (stacks/) -> targets -> components
// -> outputs, and imports point down only. Checked by `npm test` (npm run lint:layers).
const below = (...folders) => `^(${folders.join("|")})(/|\\.ts$)`;
const everythingBut = (...allowed) => {
    const all = ["core", "config", "components", "stacks", "drill", "cli", "kube", "e2e", "test", "program", "index", "providers"];
    return below(...all.filter((f) => !allowed.includes(f)));
};

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
    forbidden: [
        {
            name: "no-circular",
            severity: "error",
            comment: "Modules that import each other, directly or through others: the data would go back and forth.",
            from: {},
            to: { circular: true },
        },
        {
            name: "core-imports-nothing",
            severity: "error",
            comment: "core/ is the shared vocabulary (names, targets, schedules, ownership): it imports nothing of the project.",
            from: { path: "^core/" },
            to: { path: everythingBut("core") },
        },
        {
            name: "config-sits-on-core",
            severity: "error",
            comment: "config/ validates and loads; it knows the vocabulary (core/) and nothing built from it.",
            from: { path: "^config/" },
            to: { path: everythingBut("core", "config") },
        },
        {
            name: "components-take-their-own-args",
            severity: "error",
            comment: "Components never read config nor ask which platform they run on: program.ts maps config to their args.",
            from: { path: "^components/" },
            to: { path: everythingBut("core", "components") },
        },
        {
            name: "platforms-return-targets",
            severity: "error",
            comment: "stacks/ turns config into storage, identity and targets; it uses no component and no tool.",
            from: { path: "^stacks/" },
            to: { path: everythingBut("core", "config", "stacks", "providers") },
        },
        {
            name: "platforms-do-not-know-each-other",
            severity: "error",
            comment: "Each platform returns the same shape; neither imports the other.",
            from: { path: "^stacks/(aws|baremetal)/" },
            to: { path: "^stacks/(aws|baremetal)/", pathNot: "^stacks/$1/" },
        },
        {
            name: "drill-runner-stands-alone",
            severity: "error",
            comment: "drill/ is shipped into the cluster as one bundle: it may use core/, the API client and libraries, nothing else.",
            from: { path: "^drill/" },
            to: { path: everythingBut("core", "kube", "drill") },
        },
        {
            name: "api-client-stands-alone",
            severity: "error",
            comment: "kube/ is the API client the tools and the drill runner share: it imports nothing of the project.",
            from: { path: "^kube/" },
            to: { path: everythingBut("kube") },
        },
        {
            name: "tools-use-the-program-not-the-tests",
            severity: "error",
            comment: "cli/ may run the program and read config; the e2e harness and tests sit above it.",
            from: { path: "^cli/" },
            to: { path: below("e2e", "test", "index") },
        },
        {
            name: "program-is-not-a-tool",
            severity: "error",
            comment: "The program and its entry point never import tools, tests or the harness.",
            from: { path: "^(program|index|providers)\\.ts$" },
            to: { path: below("cli", "e2e", "test", "drill", "kube") },
        },
        {
            name: "shipped-code-imports-no-test-code",
            severity: "error",
            from: { path: "^(core|config|components|stacks|drill|kube|cli)/" },
            to: { path: "^(test|e2e)/" },
        },
    ],
    options: {
        doNotFollow: { path: "node_modules" },
        exclude: { path: "^(bin|node_modules|policy)/" },
        tsPreCompilationDeps: true,
        tsConfig: { fileName: "tsconfig.json" },
        enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
    },
};
