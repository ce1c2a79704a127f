from cecli.cli import main

raise SystemExit(main())
