from fakeserver.cli import main

raise SystemExit(main())
