/** The names and facts of a TF.js backend convkit can run on (shared by the backend modules). */
export type BackendName = 'native' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: BackendName;
  /** Name registered with TF.js (tf.getBackend()). */
  tfName: string;
  threads: number;
  /** Extra facts for `convkit doctor` (library versions, ISA…). */
  details: Record<string, string>;
  /** Why faster backends were skipped. */
  notices: string[];
}
