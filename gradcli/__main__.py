from gradcli.cli.entry import run

run()
