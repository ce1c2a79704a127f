from cecli._entry import main

raise SystemExit(main())
