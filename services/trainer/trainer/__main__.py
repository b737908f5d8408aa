from trainer.job import main

main()
