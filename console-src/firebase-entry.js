// The parts of the Firebase JS SDK the console uses, bundled by build.mjs into
// public/assets/vendor/firebase.js.
export { initializeApp } from 'firebase/app';
export {
  initializeAuth,
  indexedDBLocalPersistence,
  browserLocalPersistence,
  connectAuthEmulator,
  signInWithEmailAndPassword,
  createUserWithEmailAndPassword,
  sendEmailVerification,
  reload,
  signOut,
  onAuthStateChanged,
  // deleteAccount's fresh sign-in (console/account-data.js)
  EmailAuthProvider,
  reauthenticateWithCredential,
} from 'firebase/auth';
export {
  getFirestore,
  connectFirestoreEmulator,
  collection,
  query,
  where,
  orderBy,
  limit,
  onSnapshot,
} from 'firebase/firestore';
