"""Dashboard pages that span the domain apps (the tenant's home page, the search box);
each app keeps its own pages."""
