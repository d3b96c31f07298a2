from edi_analysis.cli import main

raise SystemExit(main())
