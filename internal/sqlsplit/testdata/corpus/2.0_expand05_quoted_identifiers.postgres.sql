/* A table imported from a spreadsheet keeps its column titles.
   /* nested: the titles contain ';' and "quotes" */
   so every identifier below is quoted. */
CREATE TABLE "import;2024" (
    "Row;Id"        integer PRIMARY KEY,
    "Say ""hi"";"   text,
    "Total (€)"     numeric(12, 2)
);

CREATE VIEW "import;2024 totals" AS
    SELECT sum("Total (€)") AS "sum;total" FROM "import;2024";

COMMENT ON VIEW "import;2024 totals" IS 'sums ";" columns';
