// Placeholder: replaced by the language implementation, which writes schema/politburo.schema.json.
