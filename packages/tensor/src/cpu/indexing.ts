// Placeholder: filled in by the indexing work in progress.
export {};
