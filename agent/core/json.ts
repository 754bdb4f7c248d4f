/** A value that JSON can represent: what decrypted and parsed config is handed around as. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** A JSON object; insertion order of keys is meaningful (it is the file's order). */
export interface JsonObject {
  [key: string]: JsonValue;
}
