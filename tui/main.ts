#!/usr/bin/env node
/** ferry-tui: placeholder entry until the terminal UI issue lands. */
process.stdout.write("ferry-tui: not built yet\n");
