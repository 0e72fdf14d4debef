from classifier.cli import app

app()
