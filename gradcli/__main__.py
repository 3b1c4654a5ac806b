from gradcli.entry import run

run()
