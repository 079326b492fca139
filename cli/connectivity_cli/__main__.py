from connectivity_cli.main import run

run()
