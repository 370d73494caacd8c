variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Base name of every resource of the stack."
  type        = string
  default     = "entity-sync-minimal"
}

variable "package_path" {
  description = "Path of the function zip from `make package`, relative to this folder."
  type        = string
  default     = "../../../dist/function.zip"
}

variable "entity_api_url" {
  description = "Full URL of the entity API's batch endpoint."
  type        = string
  default     = "https://entities.example.com/v1/operations:batch"
}
