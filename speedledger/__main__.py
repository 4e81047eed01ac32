from speedledger.cli import app

app()
