"""The project's tools: the ops commands (`sbc-publish`, `sbc-redrive`, `sbc-report`,
`sbc-drain`, `ops.logs`), what every command line shares (`cli`), where things are (`paths`)
and the local entity API's admin client. The one package the wheel installs for them."""
