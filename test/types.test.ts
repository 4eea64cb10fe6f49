/**
 * The public types say what is allowed. The `@ts-expect-error` lines are the test of the types: the type
 * check of the tests (npm run typecheck, and ts-jest) fails if any of those calls ever compiles.
 */
import { FdChannel, Mapping, ReceiveWindow, receiveShared, receiveSharedSync, sendShared, share, type Advice } from '../lib'
import { fdCount } from './helpers'

const settle = async () => {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve))
}

// advise() takes the Advice union: a misspelt advice does not compile (and at run time is refused).
test('Mapping#advise takes Advice; a misspelt advice is a type error', () => {
  using m = Mapping.anonymous(4096)
  const advice: Advice = 'dontneed'
  m.advise(advice)
  // @ts-expect-error 'dontned' is not an Advice
  expect(() => m.advise('dontned')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
})

interface Frame {
  seq: number
}
const isFrame = (h: unknown): h is Frame => typeof h === 'object' && h !== null && typeof (h as { seq?: unknown }).seq === 'number'

// receiveShared() is generic over the header: `validate`, a type guard, both checks and types it. Without
// it the header is `unknown`; a header the guard rejects is refused before anything is mapped.
test('receiveShared({ validate }) types the header; a header it rejects is refused, its descriptor closed', async () => {
  const [a, b] = FdChannel.pair()
  using memfd = share('frame')
  await sendShared(a, memfd, { seq: 7 })
  const typed = await receiveShared(b, { validate: isFrame })
  const seq: number = typed.header.seq // compiles: header is a Frame
  expect(seq).toBe(7)
  typed.mapping.unmap()

  await sendShared(a, memfd, { seq: 8 })
  const plain = await receiveShared(b)
  // @ts-expect-error without validate the header is unknown
  expect(plain.header.seq).toBe(8)
  plain.mapping.unmap()

  const before = fdCount()
  await sendShared(a, memfd, { nope: true })
  await expect(receiveShared(b, { validate: isFrame })).rejects.toMatchObject({ code: 'ERR_MEMSEAL_BAD_MESSAGE' })
  expect(fdCount()).toBe(before)
  // @ts-expect-error validate must be a function
  await expect(receiveShared(b, { validate: 'yes' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
  a.close()
  b.close()
  await settle()
})

// A window's receives and receiveSharedSync() are typed the same way: `validate` types the header; the
// blocking receives take no signal (nothing can abort a blocked thread).
test('ReceiveWindow#receive and receiveSharedSync type the header through validate; the sync ones take no signal', async () => {
  const [a, b] = FdChannel.pair()
  using memfd = share('frame')
  using window = ReceiveWindow.create(1 << 20)
  await sendShared(a, memfd, { seq: 9 })
  const shown = await window.receive(b, { validate: isFrame })
  const seq: number = shown.header.seq
  expect(seq).toBe(9)
  await sendShared(a, memfd, { seq: 10 })
  const sync = receiveSharedSync(b, { validate: isFrame, timeout: 5000 })
  const seq2: number = sync.header.seq
  expect(seq2).toBe(10)
  sync.mapping.unmap()
  // @ts-expect-error a blocking receive takes no signal
  expect(() => window.receiveSync(b, { signal: AbortSignal.timeout(1) })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
  a.close()
  b.close()
  await settle()
})
