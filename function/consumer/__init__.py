"""SQS batch consumer: validate, aggregate and deliver entity changes to the entity API."""
