"""The dashboard at `/_mockfabric/ui/`: what the emulator holds, its clock, its journal, fixtures, faults and drift, as
server-rendered pages (no build step, nothing fetched from elsewhere). `views` gathers what a page shows from the
service and the fixture layer (no Flask); `pages` draws it as escaped HTML and inline SVG."""
