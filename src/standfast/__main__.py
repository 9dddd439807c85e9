from standfast.cli.main import main

main()
