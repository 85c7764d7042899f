"""Server-rendered pages: views, forms, filters and tables of the ticket, queue, knowledge-base and report pages."""
