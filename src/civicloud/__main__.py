from civicloud.cli import main

main()
