enum _PlaceholderTaxTables {}
