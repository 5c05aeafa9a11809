"""What the root command says about itself: its help text and its command groups.

Kept free of imports so the entry point can answer ``--help`` and
``--version`` without loading click (tests check the output is identical to
click's).
"""

PROG = "aws-research-wizard"
MAX_WIDTH = 100

ROOT_HELP = """AWS Research Wizard: ready-made, versioned AWS research environments.

Domain packs (genomics, climate modelling, machine learning, ...) are
validated, priced and secure CloudFormation environments. Browse them with
`registry list`, check them with `registry validate`, and try the flow
without an AWS account in the local `sandbox`; `deploy` one as a session
and come back to it later with `sessions`.

State lives in ~/.aws-research-wizard (override with ARW_HOME)."""

# name -> (module, attribute, one-line help shown by --help without importing the module)
GROUPS = {
    "config": ("registry_tools.cli.config_cmd", "config", "Show and manage the client's configuration and state."),
    "registry": ("registry_tools.cli.registry_cmd", "registry",
                 "Maintainer tools: validate, build, sign, publish and version domain packs."),
    "deploy": ("registry_tools.cli.deploy_cmd", "deploy",
               "Deploy a pack as a session that survives quitting; manage sessions."),
    "demo": ("registry_tools.cli.demo_cmd", "demo",
             "Run the whole flow on the sandbox: build, trust, install, deploy, list, destroy."),
    "monitor": ("registry_tools.cli.monitor_cmd", "monitor",
                "Live status, health, CPU, memory and cost of sessions (q quits; resume any time)."),
    "sandbox": ("registry_tools.cli.sandbox_cmd", "sandbox",
                "Run a local AWS emulator (moto) to try everything without an AWS account."),
    "sessions": ("registry_tools.cli.sessions_cmd", "sessions",
                 "Deployed sessions: list, show, resume, stop, start, connect, archive, cleanup, destroy."),
}

ROOT_OPTIONS = (("-V, --version", "Show the version and exit."), ("-h, --help", "Show this message and exit."))
