from housing.cli import main

main()
