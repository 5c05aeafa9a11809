"""`make demo`: the main flow on this machine only; see registry_tools/cli/demo_cmd.py."""

from registry_tools.cli.demo_cmd import demo

if __name__ == "__main__":
    demo(prog_name="aws-research-wizard demo")
