import sys

from services.cantaloupe_purger.purger import main

sys.exit(main())
