from opsd.cli import main

raise SystemExit(main())
