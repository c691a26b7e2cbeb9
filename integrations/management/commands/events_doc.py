"""Write docs/events.md's event catalogue from integrations.catalogue (`--check`: fail if it is stale)."""

from django.core.management.base import BaseCommand, CommandError

from integrations.catalogue_doc import DOC_PATH, catalogue_markdown, doc_section, doc_write


class Command(BaseCommand):
    help = "Regenerate the event catalogue in docs/events.md from integrations/catalogue.py."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Only check; exit 1 if the file is stale.")

    def handle(self, *args, check: bool = False, **options):
        if check:
            if doc_section(DOC_PATH.read_text()) != catalogue_markdown():
                raise CommandError(f"{DOC_PATH} is stale: run ./dev manage events_doc")
            self.stdout.write("docs/events.md is up to date.")
            return
        changed = doc_write()
        self.stdout.write("docs/events.md updated." if changed else "docs/events.md was up to date.")
