#!/usr/bin/env python3
"""Relabel local-track reports as Stone Soup's `TrackToTruth` would associate them.

Each report's `truth` becomes the object that Stone Soup 1.9's `TrackToTruth` association
(nearest truth within a distance threshold, `consec_pairs_confirm` 3, `consec_misses_end` 2,
truth interpolated linearly to the report time) gives its track at that time, or -1. Used to
ask whether labelling `trackcorr track`'s output by state distance instead of detection origin
changes the chain's purity (on salvo seed 3 it lowers it: the states are close to both
objects of the closely spaced pair).

    trackcorr generate --seed 3 --out s3
    trackcorr track --detections s3/detections.csv --sensors s3/sensors.csv --backend cpu --out s3/trk
    python3 bench/analysis/track_to_truth_labels.py s3 s3/trk/reports.csv 1000 > s3/t2t.csv
    trackcorr correlate --reports s3/t2t.csv --sensors s3/sensors.csv --truth s3/truth.csv \
        --backend cpu --out s3/t2t

Plain Python 3, no packages.
"""
import csv,math,collections,bisect,sys
d,f,thr=sys.argv[1],sys.argv[2],float(sys.argv[3])
T=collections.defaultdict(dict)
for r in csv.DictReader(open(d+'/truth.csv')):
    T[(r['replay'],int(r['object']))][float(r['time'])]=[float(r[k]) for k in 'x y z'.split()]
TT={k:(sorted(v),v) for k,v in T.items()}
def at(k,t):
    ts,v=TT[k]; i=bisect.bisect_left(ts,t)
    if i<len(ts) and ts[i]==t: return v[t]
    if i==0 or i>=len(ts): return None
    t0,t1=ts[i-1],ts[i]; w=(t-t0)/(t1-t0)
    return [v[t0][j]+w*(v[t1][j]-v[t0][j]) for j in range(3)]
rows=list(csv.reader(open(f))); h=rows[0]
ti,si,ki,li=h.index('time'),h.index('sensor'),h.index('track'),h.index('truth')
byt=collections.defaultdict(list)
for n,r in enumerate(rows[1:],1): byt[(r[0],r[si],r[ki])].append(n)
objs=collections.defaultdict(list)
for (rp,o) in TT: objs[rp].append(o)
for key,ns in byt.items():
    rp=key[0]; lab={}
    cur=pot=None; nps=nf=0; pstart=start=end=None; spans=[]
    for n in ns:
        r=rows[n]; t=float(r[ti]); x=[float(r[h.index(c)]) for c in 'xyz']
        md,mt=thr,None
        for o in sorted(objs[rp]):
            p=at((rp,o),t)
            if p is None: continue
            dd=math.dist(x,p)
            if dd<md: md,mt=dd,o
        if cur is None:
            if mt is None: nps=0;pot=None;pstart=None
            elif pot!=mt: pot=mt;nps=1;pstart=n
            else: nps+=1
            if nps>=3: cur=mt;start=pstart;end=n;pstart=None;pot=None;nps=0
        else:
            if mt==cur: nf=0; end=n
            else:
                nf+=1
                if mt is not None and mt==pot: nps+=1
                else: pot=mt;pstart=n;nps=1
            if nf>=2:
                spans.append((start,end,cur)); nf=0
                if nps>=3: cur=pot;start=pstart;end=n
                else: cur=start=end=None
    if cur is not None: spans.append((start,end,cur))
    for n in ns: rows[n][li]='-1'
    for a,b,o in spans:
        for n in ns:
            if a<=n<=b: rows[n][li]=str(o)
csv.writer(sys.stdout).writerows(rows)
